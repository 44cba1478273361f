import subprocess


def archive(name):
    subprocess.run(f"tar czf /backups/{name}.tgz /data", shell=True, check=True)
