"""The workspace and the people in it: opening and creating a workspace, importing the
recipients file. Imports `mailer.content` (the shipped templates) and the domain.
"""
