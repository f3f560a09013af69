# avfleet-agent: `python3 -m avfleet_agent`, as the launcher runs it.
from .main import main

main()
