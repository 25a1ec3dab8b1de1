"""The pure domain core: rules of complaint handling, no I/O, no asyncio, no ORM, no spaCy."""
