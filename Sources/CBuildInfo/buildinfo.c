#include "buildinfo.h"

// Package.swift defines AMBER_BUILD_COMMIT from the checkout's HEAD; a C string because a Swift -D has no value.
#ifndef AMBER_BUILD_COMMIT
#define AMBER_BUILD_COMMIT "unknown"
#endif

const char *amber_build_commit(void) { return AMBER_BUILD_COMMIT; }
