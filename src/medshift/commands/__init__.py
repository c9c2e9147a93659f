"""One module per ``medshift`` subcommand that is also a DVC stage (``python -m
medshift.commands.NAME`` in dvc.yaml), so a stage's code is its module's imports only."""
