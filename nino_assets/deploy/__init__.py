"""The production deployment on one server: the run launcher its instance names, and the stack `nino deploy` starts
(code server, webserver, daemon) against a PostgreSQL server."""
