"""The UI flows, through the real webserver and daemon."""
