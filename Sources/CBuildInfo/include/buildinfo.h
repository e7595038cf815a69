#ifndef AMBER_BUILDINFO_H
#define AMBER_BUILDINFO_H

/// The git commit the binaries were built from, as Package.swift read it ("unknown" outside a git checkout).
const char *amber_build_commit(void);

#endif
