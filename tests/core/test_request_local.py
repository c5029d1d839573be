"""Admin pages that show each reader what they may see keep the request per thread: the
admin object serves every request, and a threaded server answers several at once."""

import threading

from core.admin_base import RequestLocalMixin


def test_each_thread_reads_its_own_request():
    class Base:
        def changeform_view(self, request, *args):
            seen[request] = None
            started.wait()
            seen[request] = admin._request
            return request

    class Admin(RequestLocalMixin, Base):
        pass

    admin, seen, started = Admin(), {}, threading.Barrier(2)
    threads = [threading.Thread(target=admin.changeform_view, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a": "a", "b": "b"}
