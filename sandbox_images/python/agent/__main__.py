from agent.serve import main

main()
