"""Imports every module that defines tables, so SQLModel.metadata is complete.

Alembic's env and the migration test import this. A feature that adds tables
adds its module here.
"""

# ruff: noqa: I001  (one import line per feature, appended by each feature: keep them apart)
from hub import models  # noqa: F401
from hub.updates import service as updates  # noqa: F401
from hub.mail import outbox as mailer  # noqa: F401
from hub.alarms import service as alarms  # noqa: F401  (link health, issue 5)
from hub.conferences import manager as conferences  # noqa: F401  (conferences, issue 3)
from hub.identity import store as identity  # noqa: F401  (identity, polls, evidence: issue 16)
from hub.polls import store as polls  # noqa: F401
from hub.evidence import store as evidence  # noqa: F401
