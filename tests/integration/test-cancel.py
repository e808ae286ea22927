#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""CancelOn=: a file written and deleted inside DelaySec= never runs."""

import os

import harness
from harness import DaemonTestCase, write, log

CONFIG = '''
[Watch w]
Path=@TMP@/w

[Rule c]
Watch=w
On=IN_CLOSE_WRITE
CancelOn=IN_DELETE
DelaySec=2
Exec=@REC@ {pathname}
'''


class Cancel(DaemonTestCase):
    def test_write_then_delete_never_runs(self):
        d = self.daemon(CONFIG, start=False)
        w = self.fresh_dir(d, 'w')
        d.start()
        gone, kept = os.path.join(w, 'gone'), os.path.join(w, 'kept')
        write(gone)
        os.unlink(gone)
        m = d.wait_for_log(r'^Task (\d+) \(c\) cancelled: (.*)\.$')[0]
        self.assertIn('DELETE', m.group(2).upper(), 'cancelled because of the delete')
        log('task %s cancelled: %s' % (m.group(1), m.group(2)))
        # A later file of the same rule: when its task has finished, the cancelled one's delay is long
        # over, so had it survived it would have run by now.
        write(kept)
        d.wait_for_log(r'^Task \d+ \(c\) finished: ')
        d.settle()
        paths = [r.args[0] for r in d.records()]
        self.assertEqual(paths, [os.fsencode(kept)], 'only the kept file ran')
        self.assertEqual(d.log_matches(r'^Task %s \(c\) started' % m.group(1)), [])
        log('the deleted file never ran, the kept one did')


if __name__ == '__main__':
    harness.main()
