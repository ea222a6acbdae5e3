"""Settings, storage and crypto: the implementations behind the application's ports."""
