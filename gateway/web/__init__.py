"""The web app: Africa's Talking callbacks, the staff API, the dashboard and the simulator page."""
