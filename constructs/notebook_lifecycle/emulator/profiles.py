"""The emulated notebook instance: platform profiles (os-release, units), the hook's limit and PATH, the
commands each profile has, hides or stubs."""

from __future__ import annotations

#: SageMaker fails a lifecycle hook that runs longer than this.
PLATFORM_LIMIT_SECONDS = 300
#: The only environment variable the hook gets (besides ``env``): the API reference's value, typo and all.
HOOK_PATH = "/sbin:bin:/usr/sbin:/usr/bin"
DEFAULT_METADATA = {
    "ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/emulated",
    "ResourceName": "emulated",
}
PLATFORMS = ("al2023", "al2")
HOOKS = ("on-start", "on-create")

_PATH_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin",
              "/usr/local/games", "/usr/games")

_OS_RELEASE = {
    "al2023": (
        'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\n'
        'PLATFORM_ID="platform:al2023"\nPRETTY_NAME="Amazon Linux 2023.6.20250107"\nANSI_COLOR="0;33"\n'
        'CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"\nHOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"\n'
        'DOCUMENTATION_URL="https://docs.aws.amazon.com/linux/"\nSUPPORT_URL="https://aws.amazon.com/premiumsupport/"\n'
        'BUG_REPORT_URL="https://github.com/amazonlinux/amazon-linux-2023"\nVENDOR_NAME="AWS"\n'
        'VENDOR_URL="https://aws.amazon.com/"\nSUPPORT_END="2029-06-30"\n',
        "Amazon Linux release 2023.6.20250107 (Amazon Linux)\n",
    ),
    "al2": (
        'NAME="Amazon Linux"\nVERSION="2"\nID="amzn"\nID_LIKE="centos rhel fedora"\nVERSION_ID="2"\n'
        'PRETTY_NAME="Amazon Linux 2"\nANSI_COLOR="0;33"\nCPE_NAME="cpe:2.3:o:amazon:amazon_linux:2"\n'
        'HOME_URL="https://amazonlinux.com/"\nSUPPORT_END="2026-06-30"\n',
        "Amazon Linux release 2 (Karoo)\n",
    ),
}
# Units every profile knows (all active and enabled); crond is added when cron is on.
_DEFAULT_UNITS = ("amazon-ssm-agent", "jupyter-server", "amazon-cloudwatch-agent", "sshd")
_CRON_COMMANDS = ("crontab", "crond", "cron")
_APT_COMMANDS = ("apt", "apt-get", "apt-cache")
# what restarts or stops a machine: recorded, and a failure cause (stub name -> where it goes)
_POWER_COMMANDS = {"reboot": "/usr/sbin/reboot", "shutdown": "/usr/sbin/shutdown", "poweroff": "/usr/sbin/poweroff",
                   "halt": "/usr/sbin/halt", "init": "/usr/sbin/init", "telinit": "/usr/sbin/telinit"}
_POWER_VERBS = ("reboot", "poweroff", "halt", "kexec", "soft-reboot", "emergency", "rescue")
