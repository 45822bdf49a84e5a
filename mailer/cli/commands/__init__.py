"""The command groups of `invite`, one module per job; each holds a `group` the root merges.

A command module imports `mailer.cli.common` and the packages below `cli`, never another
command module nor the root.
"""
