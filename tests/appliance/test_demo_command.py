import subprocess
import sys


def test_demo_presses_button_on_enter(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "demo", "--workdir", str(tmp_path / "demo")],
        input="\n\n", capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("captured") == 2
    assert (tmp_path / "demo").is_dir()
