"""Chat messages: built by pure code (message.py), delivered by notifiers (slack.py, console.py)."""
