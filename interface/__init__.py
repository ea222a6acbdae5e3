"""How the outside world reaches Atende: HTTP (Falcon) and the command line."""
