"""What the organiser reads: `invite status`, the exports, the workbook, the brokerage
wishes and the scheduled sends. Reads the outbox's state, so it may import
`mailer.delivery` as well as `mailer.content` and the domain; nothing but `cli`
imports it.
"""
