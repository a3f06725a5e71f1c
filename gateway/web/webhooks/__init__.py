"""Africa's Talking callbacks: USSD steps and notices, inbound SMS, delivery reports."""
