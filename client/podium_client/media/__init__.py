"""The client's media: sources to publish, taps and a recorder for what is watched."""
