"""What crosses from the station to the practice: envelope, protocol, discovery, both ends.

The receiver runs on another machine, so this package never imports `appliance`.
"""
