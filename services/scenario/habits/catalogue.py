"""The words of the simulated world: ticket summaries, MSP work, alerts, recommendations.

Which summaries concern a device matters: only a procurement, onboarding or
change ticket naming a device, its type or its user announces a new device
(issue 12, rule 4); any other request before a silent device announces nothing.
"""

from __future__ import annotations

from datetime import timedelta

from services.events.models import Nature, Source

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# A client ticket's own device has had no alert this far back (the persona did not sit
# on a problem unless it means to); quick reports follow their alert within 2 hours.
CLEAN_LOOKBACK = (timedelta(hours=3), timedelta(days=7.5))
# A silent change has no ticket about a device in these days before it.
ANNOUNCE_BLOCK = timedelta(days=8.5)
DEVICE_WORDS = ("laptop", "workstation", "monitor", "printer", "access point", "new starter")


def concerns_devices(summary: str) -> bool:
    """Whether a ticket's summary names a device, its type or the starter it is for."""
    lowered = summary.lower()
    return any(word in lowered for word in DEVICE_WORDS)


INCIDENTS = (
    "Outlook keeps asking for the password",
    "Printer on reception is offline",
    "Cannot open the shared drive",
    "Laptop will not boot",
    "VPN drops every few minutes",
    "No audio in Teams calls",
    "Scanner does not send to email",
    "PC very slow since the update",
    "Blue screen at start-up",
    "Wi-Fi drops in the meeting room",
    "Cannot print to the warehouse label printer",
    "Excel crashes when opening the budget file",
)
# Requests that concern no device: they announce nothing (issue 12, rule 4).
REQUESTS = (
    "Install Adobe Acrobat",
    "Add user to the finance share",
    "Set up a shared mailbox",
    "Reset MFA on a phone",
    "Leaver: disable the account",
    "Update the email signature",
)
# Requests and changes that concern a device: they announce one.
DEVICE_REQUESTS = ("New starter: account and laptop", "Second monitor for a desk")
CLIENT_CHANGES = ("Change the guest Wi-Fi password", "Add a shared calendar for the front desk")
DEVICE_CHANGES = ("Move a printer to the new office",)
PROBLEMS = ("Recurring disk errors on the file server", "Outlook crashes across the office")
HOW_TO = ("How do I share a calendar?", "How to set an out-of-office reply")
# A technician's next step of a client's desk ticket, titled as he would title the ticket
# he opens for it himself (no follow-up word, no link to the first): by what the request
# was about, in his own words, so not always with a word of the client's summary.
NEXT_STEPS = {
    "Install Adobe Acrobat": "Adobe Acrobat: assign the licence to the new seat",
    "Add user to the finance share": "Finance share: clean up the access group",
    "Set up a shared mailbox": "Shared mailbox: add it to the team's Outlook profiles",
    "Reset MFA on a phone": "Enrol the replacement phone in the authenticator app",
    "Leaver: disable the account": "Leaver: archive the mailbox and reclaim the licence",
    "Update the email signature": "Roll the new signature out to every mailbox",
    "New starter: account and laptop": "Starter laptop: image it and enrol it in Intune",
    "Second monitor for a desk": "Mount a monitor arm for the second screen",
    "Printer on reception is offline": "Reception printer: give it a fixed IP address",
    "Wi-Fi drops in the meeting room": "Meeting room: survey for a second access point",
    "Cannot open the shared drive": "Shared drive: map it by group policy",
    "Scanner does not send to email": "Scanner: move scan-to-email to the SMTP relay",
    "Laptop will not boot": "Order a replacement SSD for the broken-down laptop",
    "PC very slow since the update": "PC upgrade: add 8 GB of memory",
}
MSP_WORK = {
    Nature.maintenance: (
        "Firewall firmware update",
        "Backup restore test",
        "Replace UPS battery",
        "Server hardware health check",
        "Clean up stale directory accounts",
    ),
    Nature.project: (
        "Migrate the file share to SharePoint",
        "Replace workstations out of warranty",
        "Deploy new Wi-Fi access points",
    ),
    Nature.review: (
        "Quarterly technical review",
        "Security posture review",
        "Backup policy review",
    ),
    Nature.change: ("Planned change: conditional access policy", "Planned change: DNS migration"),
    Nature.unknown: ("Onboarding checklist follow-up", "Documentation refresh"),
}
WORK_TYPES = {
    Nature.maintenance: "Maintenance",
    Nature.project: "Project",
    Nature.review: "Review",
    Nature.change: "Change",
    Nature.unknown: "Maintenance",
}
RECOMMENDATIONS = (
    ("lifecycle", "Replace workstations out of warranty"),
    ("security", "Enable MFA on every mailbox"),
    ("quote", "Quote: firewall refresh"),
    ("roadmap", "Move the file server to SharePoint"),
    ("security", "Adopt a password manager"),
    ("lifecycle", "Retire the Windows Server 2012 host"),
    ("quote", "Quote: second internet line"),
)
ALERTS = {
    Source.ninjaone: (
        ("Disk Free Space", "Disk C: free space is below 10%"),
        ("CPU Utilization", "CPU above 95% for 15 minutes"),
        ("Device Down", "Device has not checked in for 15 minutes"),
        ("Memory Utilization", "Memory above 90% for 30 minutes"),
        ("Windows Service", "Service 'Spooler' stopped"),
    ),
    Source.dattormm: (
        ("Disk Usage", "Disk C: usage is above 90%"),
        ("CPU", "CPU usage above 95% for 15 minutes"),
        ("Online Status", "Device offline for 15 minutes"),
        ("Memory", "Memory usage above 90%"),
        ("Service", "Service Print Spooler is stopped"),
    ),
    Source.tacticalrmm: (
        ("check", "Disk Space Drive C: < 10% free"),
        ("check", "CPU Load above 95%"),
        ("availability", "Agent has not checked in for 15 minutes"),
        ("check", "Memory above 90%"),
        ("task", "Scheduled task 'Cleanup' failed"),
    ),
}
SEVERITIES = {
    Source.ninjaone: (("MAJOR", 3), ("MODERATE", 4), ("MINOR", 2), ("CRITICAL", 1)),
    # "Urgent" is a priority this tenant never mapped: the adapter reads it as info.
    Source.dattormm: (("High", 3), ("Moderate", 4), ("Low", 2), ("Critical", 1), ("Urgent", 0.3)),
    Source.tacticalrmm: (("error", 3), ("warning", 4), ("info", 2)),
}
# Where each PSA's record ids start (they then increase, as the PSA allocates them).
FIRST_IDS = {
    "ticket": {Source.connectwise: 48200, Source.autotask: 351100, Source.halopsa: 2200},
    "time": {Source.connectwise: 90100, Source.autotask: 41000, Source.halopsa: 7100},
    "visit": {Source.connectwise: 9100, Source.autotask: 6100, Source.halopsa: 5100},
}


OTHER_SOFTWARE = ("Google Chrome", "Adobe Acrobat Reader", "7-Zip", "Zoom Workplace", "Notepad++")
