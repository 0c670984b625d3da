"""Every table module, imported so that ``metadata`` is complete (migrations, schema checks).

A new module with tables is added here.
"""

import townhall.core.accounts.tables  # noqa: F401
import townhall.core.app_settings  # noqa: F401
import townhall.core.calls.tables  # noqa: F401
import townhall.core.chat.tables  # noqa: F401
import townhall.core.communities.tables  # noqa: F401
import townhall.core.experts.oauth_tables  # noqa: F401
import townhall.core.experts.tables  # noqa: F401
import townhall.core.forum.tables  # noqa: F401
import townhall.core.rooms.tables  # noqa: F401
import townhall.core.social.tables  # noqa: F401
import townhall.core.tasks  # noqa: F401
import townhall.jobs.tables  # noqa: F401
