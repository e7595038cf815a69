// AmberKVM: see the package layout in README.md. Sources land here with their issue.
