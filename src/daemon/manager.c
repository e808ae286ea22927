/* SPDX-License-Identifier: GPL-2.0-or-later */
/* stub: being written */
typedef int stub_manager;
