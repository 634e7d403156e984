/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder until its owner fills it in. */
#include "hyve-config.h"
#include "hyve_host.h"
