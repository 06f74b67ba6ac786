"""Local fakes of external services, played from real recordings, for the tests."""
