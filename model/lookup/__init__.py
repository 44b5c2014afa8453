"""What the code says, without the network: scope, modules and imports, classes, receivers."""
