"""The portal's console: accounts (log in, sign up, API keys), requests for datasets and one's
grants, and the stewards' inbox, decisions and catalog edits. The pages live in the
`console_*` modules; this router gathers them for the portal."""

from __future__ import annotations

from fastapi import APIRouter

from cityhub.portal import console_account, console_requests, console_steward

router = APIRouter(include_in_schema=False)
for part in (console_account, console_requests, console_steward):
    router.include_router(part.router)
