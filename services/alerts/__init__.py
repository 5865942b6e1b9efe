"""The alerts service: relationship risks and Grafana alerts to account leads and ops."""
