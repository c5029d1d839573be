"""The spreadsheet import, in the order a file goes through it: template, read, check, plan,
write (services), export (the way back), admin pages. The command is
cases/management/commands/import_incidents.py."""
