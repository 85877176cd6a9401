from softphone.cli import main

main()
