"""Imports every module that defines tables, so SQLModel.metadata is complete.

Alembic's env and the migration test import this. A feature that adds tables
adds its module here.
"""

# ruff: noqa: I001  (one import line per feature, appended by each feature: keep them apart)
from hub import models  # noqa: F401
from hub.updates import store as updates  # noqa: F401
from hub.control import store as control  # noqa: F401  (agents, enrolment codes)
from hub.web import store as web  # noqa: F401  (operators, API tokens)
from hub.mail import store as mailer  # noqa: F401
from hub.alarms import store as alarms  # noqa: F401  (link health, issue 5)
from hub.linkhealth import store as linkhealth  # noqa: F401  (link health, issue 5)
from hub.briefings import store as briefings  # noqa: F401  (schedule, issue 4)
from hub.conferences import store as conferences  # noqa: F401  (conferences, issue 3)
from hub.attendance import store as attendance  # noqa: F401  (attendance intervals, issue 13)
from hub.reports import store as reports  # noqa: F401  (monthly reports, issue 13)
from hub.content import store as content  # noqa: F401  (content library, issue 14)
from hub.guests import store as guests  # noqa: F401  (guests, issue 15)
from hub.identity import store as identity  # noqa: F401  (identity, polls, evidence: issue 16)
from hub.polls import store as polls  # noqa: F401
from hub.evidence import store as evidence  # noqa: F401
from hub.recording import store as recording  # noqa: F401  (recordings, issue 14)
