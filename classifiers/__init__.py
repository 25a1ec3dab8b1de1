"""The triage classifier: a spaCy pipeline trained from spacy.blank("en"), rule components for signals,
training, evaluation, and the runtime adapter the bot loads."""
