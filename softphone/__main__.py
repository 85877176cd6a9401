from softphone.cli import main

main(prog_name="softphone")
