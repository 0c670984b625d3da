from townhall.core.accounts.models import User
from townhall.core.events import Event


class UserUpdated(Event):
    type = "user.updated"
    user: User


class UserDeleted(Event):
    type = "user.deleted"
    user: User
    hard: bool = False
