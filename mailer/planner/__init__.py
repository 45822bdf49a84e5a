"""The brokerage schedule (#11): who meets which company when, and at which table.

Gathers the wishes from the answers and the organiser's and companies' say
(`wishes`), plans them with Google OR-Tools' CP-SAT (`model`, `fairness`), starting
from a min-cost flow's choice of pairs (`start`) or the first-come baseline
(`greedy`), seats the meetings at tables (`seating`), explains what was not met
(`shortfall`, `report`), checks every plan with a validator written apart from the
model (`validate`) and stores it (`plan`); `timetable` prints it, `host_answers`
reads a company's CSV.
Imports only `mailer.content` and the domain (`rsvp`); only `cli` imports it.
"""
