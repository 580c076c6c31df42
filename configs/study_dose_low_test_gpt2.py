# The sweep of the map's arm `make study STUDY_ARM=dose_low` (docs/study.md "The map"): the bilingual model against its
# control matched on English bytes (configs/map_bilingual_control_sweep.py).
#   python test_gpt2.py configs/study_dose_low_test_gpt2.py
import os

_arm = 'dose_low'
exec(open(os.path.join(os.path.dirname(__file__), 'map_bilingual_control_sweep.py')).read())
