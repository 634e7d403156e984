/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hyved_remote_util.h: helpers shared by the hyved_remote_*.c handler files
 * (wire <-> driver conversions: domain identity, typed params, flags checks).
 * Placeholder until its owner fills it in. */
#pragma once
#include "hyved_dispatch.h"
