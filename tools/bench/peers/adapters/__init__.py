"""The supervisors, in the order of the table (reins first)."""

from adapters.pm2 import Pm2
from adapters.reins import Reins
from adapters.runit import Runit
from adapters.s6 import S6
from adapters.supervisord import Supervisord
from adapters.tini import Tini

ALL = [Reins, S6, Runit, Supervisord, Tini, Pm2]
BY_NAME = {a.name: a for a in ALL}
