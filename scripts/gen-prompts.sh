#!/bin/sh
# Regenerates the meeting dial-in voice prompts in voip/prompts/wav/ with
# espeak-ng (English and Mandarin) and ffmpeg. Run it from anywhere:
#
#	./scripts/gen-prompts.sh
#
# It writes wav/{en,zh}/{8000,16000}/NAME.wav (mono, 16-bit PCM) and
# wav/VERSION, and removes nothing else. The output depends only on the
# prompt list below and on the espeak-ng and ffmpeg versions, which it records
# in VERSION, so a rerun with the same versions gives byte-identical files.
# Tests never run this script; they read the committed files.
#
# Each prompt is: espeak-ng at 22050 Hz -> leading and trailing silence cut
# -> a gentle compressor -> resampled to 8000 or 16000 Hz -> gain so that the
# peak is at -3 dBFS (the RMS of speech then lands near -16 dBFS).
#
# Needs espeak-ng and ffmpeg (Debian: apt-get install --no-install-recommends
# espeak-ng ffmpeg).
set -eu
cd "$(dirname "$0")/.."

# Voices. Mandarin uses cmn-latn-pinyin and is fed Hanyu Pinyin with tone
# numbers: in espeak-ng 1.51 the plain "cmn" voice reads the tone digits of
# its own character lookups as English words ("qing three"), and Pinyin also
# settles characters with more than one reading. espeak-ng applies third-tone
# sandhi itself, so the Pinyin carries dictionary tones; only 不 and 一 are
# written with their sandhi tones (bu2, yi2 before a fourth tone). A Latin
# word without a tone number (Civic) is spoken in English. The Mandarin uses
# full-width punctuation: after a tone digit an ASCII full stop is taken for
# part of a number, so it makes no pause and lets sandhi run across sentences.
EN_VOICE=en-us
ZH_VOICE=cmn-latn-pinyin
SPEED=150 # words per minute; espeak-ng's default of 175 is fast on a phone
PEAK_DB=-3
RATES="8000 16000"
OUT=voip/prompts/wav

for tool in espeak-ng ffmpeg; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "gen-prompts: $tool is missing (apt-get install --no-install-recommends espeak-ng ffmpeg)" >&2
		exit 1
	}
done

# name|English|Mandarin as spoken (Pinyin)|Mandarin as written
# Keep the names in step with Names() in voip/prompts/prompts.go.
PROMPTS='welcome|Welcome to the Civic meeting service.|huan1 ying2 shi3 yong4 Civic hui4 yi4 fu2 wu4。|欢迎使用 Civic 会议服务。
enter_pin|Please enter the meeting PIN, followed by the hash key.|qing3 shu1 ru4 hui4 yi4 mi4 ma3，ran2 hou4 an4 jing3 hao4 jian4。|请输入会议密码，然后按井号键。
wrong_pin|That PIN is not correct. Please try again.|mi4 ma3 bu2 zheng4 que4。qing3 zai4 shi4 yi2 ci4。|密码不正确。请再试一次。
goodbye|Too many wrong attempts. Goodbye.|cuo4 wu4 ci4 shu4 tai4 duo1。zai4 jian4。|错误次数太多。再见。
waiting_host|The meeting has not started yet. Please wait for the host.|hui4 yi4 shang4 wei4 kai1 shi3。qing3 deng3 dai4 zhu3 chi2 ren2。|会议尚未开始。请等待主持人。
locked|This meeting is locked. Goodbye.|ben3 ci4 hui4 yi4 yi3 suo3 ding4。zai4 jian4。|本次会议已锁定。再见。
no_meeting|There is no meeting with that number. Goodbye.|mei2 you3 zhe4 ge5 hao4 ma3 de5 hui4 yi4。zai4 jian4。|没有这个号码的会议。再见。
joined|You are now in the meeting.|nin2 yi3 jin4 ru4 hui4 yi4。|您已进入会议。
muted|You are muted.|nin2 yi3 bei4 jing4 yin1。|您已被静音。
unmuted|You are unmuted.|nin2 yi3 qu3 xiao1 jing4 yin1。|您已取消静音。
hand_raised|Your hand is raised.|nin2 yi3 ju3 shou3。|您已举手。
meeting_ended|The meeting has ended. Goodbye.|hui4 yi4 yi3 jie2 shu4。zai4 jian4。|会议已结束。再见。'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# render VOICE TEXT NAME LANG writes the prompt at every rate.
render() {
	voice=$1 text=$2 name=$3 lang=$4
	espeak-ng -v "$voice" -s "$SPEED" -w "$tmp/raw.wav" -- "$text"
	for rate in $RATES; do
		dir=$OUT/$lang/$rate
		mkdir -p "$dir"
		# Trim both ends (reverse, trim the start, reverse back), compress a
		# little, resample; keep float so the gain below is applied once.
		ffmpeg -nostdin -v error -y -i "$tmp/raw.wav" -af \
			"silenceremove=start_periods=1:start_threshold=-60dB,areverse,silenceremove=start_periods=1:start_threshold=-60dB,areverse,acompressor=threshold=-24dB:ratio=3:attack=0.5:release=60:makeup=1,aresample=$rate" \
			-ac 1 -c:a pcm_f32le "$tmp/trim.wav"
		peak=$(ffmpeg -nostdin -hide_banner -nostats -i "$tmp/trim.wav" -af volumedetect -f null - 2>&1 |
			sed -n 's/.*max_volume: \(-\{0,1\}[0-9.]*\) dB.*/\1/p')
		[ -n "$peak" ] || {
			echo "gen-prompts: cannot measure $lang/$rate/$name" >&2
			exit 1
		}
		gain=$(awk -v p="$peak" -v t="$PEAK_DB" 'BEGIN { printf "%.1f", t - p }')
		ffmpeg -nostdin -v error -y -i "$tmp/trim.wav" -af "volume=${gain}dB" \
			-ar "$rate" -ac 1 -c:a pcm_s16le -map_metadata -1 -fflags +bitexact -flags:a +bitexact \
			"$dir/$name.wav"
	done
}

printf '%s\n' "$PROMPTS" | while IFS='|' read -r name en zh _written; do
	render "$EN_VOICE" "$en" "$name" en
	render "$ZH_VOICE" "$zh" "$name" zh
	echo "gen-prompts: $name"
done

{
	echo "espeak-ng $(espeak-ng --version | sed -n 's/.*text-to-speech: *\([^ ]*\).*/\1/p')"
	command -v dpkg-query >/dev/null 2>&1 &&
		dpkg-query -W -f 'espeak-ng-data ${Version}\n' espeak-ng-data 2>/dev/null || true
	echo "ffmpeg $(ffmpeg -version | sed -n '1s/^ffmpeg version \([^ ]*\).*/\1/p')"
	echo "voices en=$EN_VOICE zh=$ZH_VOICE speed=$SPEED peak=${PEAK_DB}dBFS"
} >"$OUT/VERSION"
du -ck "$OUT"/*/*/*.wav | tail -1 | sed 's/^/gen-prompts: total KiB /'
