"""`mailer desk`: the coordinator's whole job in the browser, on her own computer.

A small local web app (Starlette on uvicorn) that listens on the loopback address only and runs
the same code as the command line. guard.py keeps it hers alone; server.py starts it; app.py
sends each address to its page in routes_*.py, by area.
"""
