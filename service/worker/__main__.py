from service.worker.main import main

raise SystemExit(main())
