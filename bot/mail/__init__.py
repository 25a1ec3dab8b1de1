"""Mail adapters: parse raw bytes, spot machines, listen on SMTP/LMTP, read IMAP, send letters."""
