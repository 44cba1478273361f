from genfleet_cli.main import main

main()
