from service.api.app import main

raise SystemExit(main())
