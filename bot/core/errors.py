"""The exception tree of the bot, drawn in one place so adapters know what to translate into.

    BotError
    ├── ConfigError            settings or a policy file is wrong (stops the bot at start)
    ├── PolicyError            a policy has no such stage / target / reason
    ├── ClockError             an illegal clock operation (extension over the cap, pause not allowed)
    ├── TransitionError        an illegal case-lifecycle transition
    │   └── ConsentNeeded      a representative's complaint confirmed without the resident's permission
    ├── NotFound               no such case / message / record
    ├── ParseError             an inbound message cannot be understood (it is quarantined, never dropped)
    └── StorageError           the store could not commit (the message stays unprocessed)
"""


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class ConfigError(BotError):
    """A setting or policy profile is invalid; the message names the key and what is allowed."""


class PolicyError(BotError):
    """A policy profile lacks what was asked of it."""


class ClockError(BotError):
    """A clock operation the policy does not allow."""


class TransitionError(BotError):
    """A case cannot move from its current status to the one asked for."""


class ConsentNeeded(TransitionError):
    """A complaint made by a representative needs the resident's permission recorded before it is confirmed."""


class NotFound(BotError):
    """The case, message or record asked for does not exist."""


class ParseError(BotError):
    """An inbound message could not be parsed."""


class StorageError(BotError):
    """The store could not record something; nothing is marked processed."""
