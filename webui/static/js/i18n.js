// @ts-check
// Translations for the console: Simplified Chinese (zh-CN) and English (en).
// The language is the one the person chose (kept in localStorage), else the
// user's account language, else the first match in navigator.languages, else
// English. It can be switched at runtime; static labels carry data-i18n*
// attributes and are re-translated in place, views re-render their data.

/** @typedef {"zh-CN" | "en"} Lang */
/** @typedef {Record<string, string | number>} Vars */

/** The languages the console speaks, in the order the switch shows them. */
export const LANGS = /** @type {const} */ (["zh-CN", "en"]);

/** Native names of the languages, never translated. */
export const LANG_NAMES = Object.freeze({ "zh-CN": "中文", en: "English" });

import { PHONES_DICTS } from "./i18n-phones.js";
import { BUILDING_DICTS } from "./i18n-building.js";
import { CAMERAS_DICTS } from "./i18n-cameras.js";

const STORAGE_KEY = "civic.lang";

/** @type {Record<Lang, Record<string, string>>} */
const DICTS = {
  en: {
    "app.name": "Civic",
    "app.tagline": "Administrative center console",
    "nav.label": "Main navigation",
    "nav.system": "System",
    "nav.users": "Users",
    "nav.audit": "Audit log",
    "page.system": "System status",
    "page.users": "Users",
    "page.audit": "Audit log",
    "conn.label": "Connection",
    "conn.connecting": "Connecting…",
    "conn.online": "Online",
    "conn.reconnecting": "Reconnecting…",
    "conn.offline": "Offline",
    "lang.label": "Language",
    "top.signed_in_as": "Signed in as",
    "top.change_password": "Change password",
    "top.logout": "Log out",
    "role.admin": "Administrator",
    "role.official": "Official",
    "role.facilities": "Facilities",
    "role.system": "System",
    "common.cancel": "Cancel",
    "common.confirm": "Confirm",
    "common.close": "Close",
    "common.loading": "Loading…",
    "common.none": "—",
    "boot.connecting": "Connecting to the server…",
    "boot.unreachable": "The server cannot be reached. Retrying…",
    "login.title": "Sign in",
    "login.subtitle": "Sign in with your console account.",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.busy": "Signing in…",
    "login.missing": "Enter your username and password.",
    "login.auth_failed": "The username or password is wrong. Check both and try again.",
    "login.locked_out": "Too many failed sign-ins. Try again in {minutes} minutes.",
    "login.locked_out_one": "Too many failed sign-ins. Try again in 1 minute.",
    "login.unreachable": "The server cannot be reached. Check the network connection and try again.",
    "login.session_ended": "Your session has ended. Please sign in again.",
    "login.signed_out": "You have signed out.",
    "login.footer": "Use of this system is recorded in the audit log.",
    "err.invalid_format": "The server could not read the request. Reload the page and try again.",
    "err.missing_id": "The console and the server do not understand each other. Reload the page.",
    "err.id_reuse": "The console and the server do not understand each other. Reload the page.",
    "err.unknown_type": "The server does not know this action. It may be an older version; reload the page.",
    "err.invalid_params": "Please check your input: {detail}",
    "err.not_allowed": "Your role is not allowed to do this.",
    "err.not_found": "This no longer exists; someone may have removed it.",
    "err.conflict": "This conflicts with the current state: {detail}",
    "err.rate_limited": "Too many actions in a short time. Wait a moment and try again.",
    "err.auth_failed": "The username or password is wrong.",
    "err.locked_out": "Too many failed sign-ins. Try again later.",
    "err.too_large": "The request is too large.",
    "err.unavailable": "That part of the system is not running right now.",
    "err.internal_error": "The server could not do that. The details are in the server log; please tell the administrator.",
    "err.disconnected": "The connection to the server was lost. Your action may not have been carried out; check and try again once the connection is back.",
    "err.timeout": "The server did not answer in time. Try again.",
    "err.closed": "You are signed out of the console.",
    "err.http": "The server answered with an unexpected error (HTTP {status}).",
    "err.unknown": "Something went wrong ({code}): {detail}",
    "users.create.title": "Add a user",
    "users.list.title": "Console users",
    "users.field.username": "Username",
    "users.field.display_name": "Display name",
    "users.field.role": "Role",
    "users.field.password": "Password",
    "users.field.language": "Language",
    "users.field.status": "Status",
    "users.field.created": "Created",
    "users.field.actions": "Actions",
    "users.create.submit": "Create user",
    "users.created": "User {username} was created.",
    "users.updated": "User {username} was updated.",
    "users.deleted": "User {username} was deleted.",
    "users.status.enabled": "Enabled",
    "users.status.disabled": "Disabled",
    "users.action.enable": "Enable",
    "users.action.disable": "Disable",
    "users.action.reset": "Reset password",
    "users.action.delete": "Delete",
    "users.role_for": "Role of {username}",
    "users.you": "you",
    "users.count": "{n} users",
    "users.empty": "No users yet.",
    "users.confirm.delete": "Delete the user {username}? Their sessions end at once. This cannot be undone.",
    "users.confirm.disable": "Disable the user {username}? They are signed out at once and cannot sign in until enabled again.",
    "users.confirm.reset": "Reset the password of {username}? A new password is generated and their sessions end.",
    "users.confirm.role": "Change the role of {username} to {role}? They are signed out and have to sign in again.",
    "users.reset.title": "New password for {username}",
    "users.reset.hint": "Copy this password now and hand it to the user in person. It is shown only this once.",
    "users.reset.done": "The password of {username} was reset.",
    "users.copy": "Copy",
    "users.copied": "Copied to the clipboard.",
    "users.copy_failed": "Copying is not possible here; select the password and copy it by hand.",
    "audit.filters": "Filters",
    "audit.filter.user": "User",
    "audit.filter.action": "Action starts with",
    "audit.filter.since": "From",
    "audit.filter.until": "To",
    "audit.filter.apply": "Apply",
    "audit.filter.clear": "Clear",
    "audit.col.time": "Time",
    "audit.col.action": "Action",
    "audit.col.user": "User",
    "audit.col.role": "Role",
    "audit.col.target": "Target",
    "audit.col.result": "Result",
    "audit.col.source": "Source",
    "audit.col.detail": "Detail",
    "audit.result.ok": "Success",
    "audit.result.failed": "Failed",
    "audit.result.denied": "Denied",
    "audit.newer": "Newer",
    "audit.older": "Older",
    "audit.page": "Page {n}",
    "audit.live": "Live: new entries appear at the top.",
    "audit.paused": "Showing older entries; live updates resume on the first page.",
    "audit.waiting": "Live updates resume when the connection is back.",
    "audit.empty": "No entries match these filters.",
    "system.overview": "Overview",
    "system.version": "Version",
    "system.go": "Go runtime",
    "system.started": "Started",
    "system.uptime": "Uptime",
    "system.modules": "Modules",
    "system.col.module": "Module",
    "system.col.state": "State",
    "system.col.detail": "Detail",
    "system.no_modules": "No modules reported.",
    "state.running": "Running",
    "state.starting": "Starting",
    "state.stopped": "Stopped",
    "state.failed": "Failed",
    "state.disabled": "Disabled",
    "module.store": "Data store",
    "module.events": "Event bus",
    "module.console": "Console",
    "module.audit": "Audit log",
    "module.conference": "Meetings",
    "module.voip": "Telephony",
    "module.building": "Building access",
    "module.cameras": "Cameras",
    "module.mqtt": "MQTT broker",
    "unit.d": "{n} d",
    "unit.h": "{n} h",
    "unit.min": "{n} min",
    "unit.s": "{n} s",
    "pw.title": "Change your password",
    "pw.current": "Current password",
    "pw.new": "New password",
    "pw.repeat": "Repeat the new password",
    "pw.submit": "Change password",
    "pw.missing": "Fill in all three fields.",
    "pw.mismatch": "The two new passwords are not the same.",
    "pw.current_wrong": "The current password is wrong.",
    "pw.done": "Your password was changed. Your other sessions have been signed out.",
    "nav.meetings": "Meetings",
    "page.meetings": "Meetings",
    "page.meeting": "Meeting",
    "meetings.new": "New meeting",
    "meetings.title": "Title",
    "meetings.title_ph": "e.g. Budget review",
    "meetings.create": "Create",
    "meetings.list": "Meetings now",
    "meetings.col.title": "Title",
    "meetings.col.room": "Room number",
    "meetings.col.host": "Host",
    "meetings.col.people": "In the meeting",
    "meetings.join": "Join",
    "meetings.passcode": "Passcode (optional)",
    "meetings.passcode_ph": "4-16 characters",
    "meetings.has_passcode": "passcode",
    "meetings.attendance": "Attendance (CSV)",
    "meetings.none": "No meetings yet. Create one above.",
    "meetings.created": "Meeting {room} was created.",
    "meeting.room": "Room {room}",
    "meeting.people": "{n} in the meeting",
    "meeting.you": "You",
    "meeting.mic_on": "Mute",
    "meeting.mic_off": "Unmute",
    "meeting.cam_on": "Stop camera",
    "meeting.cam_off": "Start camera",
    "meeting.leave": "Leave",
    "meeting.hand": "Raise hand",
    "meeting.hand_down": "Lower hand",
    "meeting.mute_all": "Mute everyone",
    "meeting.lock": "Lock meeting",
    "meeting.unlock": "Unlock meeting",
    "meeting.end": "End for everyone",
    "meeting.mute": "Mute",
    "meeting.muted": "Muted",
    "meeting.passcode": "Meeting passcode",
    "meeting.passcode_needed": "This meeting has a passcode. Type it to join.",
    "meeting.passcode_wrong": "That passcode is wrong. Check it with the host and try again.",
    "meeting.passcode_locked": "Too many wrong passcodes. Wait a few minutes, then try again.",
    "meeting.participants": "Participants",
    "meeting.share": "Share screen",
    "meeting.stop_share": "Stop sharing",
    "meeting.screen_of": "{name}'s screen",
    "meeting.your_name": "Your name in the meeting",
    "meeting.camera": "Camera",
    "meeting.microphone": "Microphone",
    "meeting.remove": "Remove",
    "meeting.chat": "Chat",
    "meeting.chat_ph": "Write a message",
    "meeting.send": "Send",
    "meeting.joining": "Joining…",
    "meeting.no_media": "Your camera or microphone could not be used; you joined to watch and listen only.",
    "meeting.muted_by_host": "The host muted you.",
    "meeting.removed": "The host removed you from the meeting.",
    "meeting.ended": "The meeting has ended.",
    "meeting.locked": "The meeting is locked.",
    "meeting.reconnecting": "Connection lost; reconnecting…",
    "meeting.end_confirm": "End this meeting for everyone?",
    "role.guest": "Guest",
    "meetings.mine": "My meetings",
    "meetings.all": "All live meetings",
    "meetings.mine_none": "You host no meetings yet. Create one above, or ask to be made a co-host.",
    "meetings.schedule": "Schedule for (optional)",
    "meetings.cohosts": "Co-hosts (optional)",
    "meetings.cohosts_ph": "usernames, separated by commas",
    "meetings.col.when": "When",
    "meetings.ad_hoc": "Now",
    "meetings.live": "live",
    "meetings.stats_line": "{name}: sends {in} kbit/s, receives {out} kbit/s, loss {loss}%, round trip {rtt} ms",
    "meetings.stats_label": "Media now",
    "meetings.cohost_tag": "co-host",
    "meetings.schedule_bad": "The scheduled time is not a valid date and time.",
    "meeting.invite": "Invite guests",
    "meeting.invite_title": "Guest invite link",
    "meeting.invite_ttl": "The link works for",
    "meeting.invite_hours": "{n} hours",
    "meeting.invite_days": "{n} days",
    "meeting.invite_one_day": "1 day",
    "meeting.invite_make": "Create link",
    "meeting.invite_copy": "Copy link",
    "meeting.invite_copied": "The invite link was copied.",
    "meeting.invite_expires": "Works until {time}. Whoever has it can ask to join; they wait in the lobby, and the passcode is still asked.",
    "meeting.lobby": "Lobby",
    "meeting.lobby_on": "Guests wait in the lobby",
    "meeting.lobby_empty": "Nobody is waiting.",
    "meeting.admit": "Admit",
    "meeting.deny": "Deny",
    "meeting.guest_waiting": "{name} is waiting in the lobby.",
    "meeting.close": "Close",
    // Desk phones in meetings (meeting-phones.js).
    "meeting.dialin": "Dial in from a desk phone: {number}, PIN {pin} #",
    "meeting.phone": "Desk phone",
    // Calling a phone into the meeting (meeting-dialout.js).
    "meeting.dialout": "Call a phone",
    "meeting.dialout_title": "Call a phone into the meeting",
    "meeting.dialout_hint": "The phone rings now. Once it is answered it joins this meeting, with no PIN.",
    "meeting.dialout_search": "Search by name, or type a number",
    "meeting.dialout_call": "Call",
    "meeting.dialout_call_number": "Call {number}",
    "meeting.dialout_call_entry": "Call {name} ({number}) into the meeting",
    "meeting.dialout_none": "Nobody in the phone directory matches. Type a number of 2 to 5 digits to call it.",
    "meeting.dialout_not_listed": "{number} is not in the directory. You can still call it.",
    "meeting.dialout_number_bad": "Choose someone from the list, or type a number of 2 to 5 digits.",
    "meeting.dialout_already": "{name} is already being called.",
    "meeting.dialout_not_host": "Only the meeting's hosts can call phones into it.",
    "meeting.dialout_state_calling": "Calling…",
    "meeting.dialout_state_ringing": "Ringing…",
    "meeting.dialout_state_answered": "Answered",
    "meeting.dialout_state_busy": "Busy",
    "meeting.dialout_state_declined": "Declined",
    "meeting.dialout_state_no_answer": "No answer",
    "meeting.dialout_state_unavailable": "Not reachable",
    "meeting.dialout_state_unknown_number": "Unknown number",
    "meeting.dialout_state_failed": "Failed",
    "meeting.dialout_state_lost": "Connection lost; outcome unknown",
    "meetings.dialin_hint": "Tell the number and PIN to anyone joining from a desk phone; everyone in the meeting can see them too.",
    "page.guest": "Join as a guest",
    "guest.invited": "You are invited to",
    "guest.name": "Your name",
    "guest.name_ph": "The name others will see",
    "guest.continue": "Continue",
    "guest.expires": "This link works until {time}.",
    "guest.checking": "Checking the invite link…",
    "guest.expired": "This invite link has expired. Ask the host for a new one.",
    "guest.invalid": "This invite link is not valid. Check it, or ask the host for a new one.",
    "guest.ended": "The meeting of this invite link has ended.",
    "guest.name_needed": "Enter your name.",
    "guest.waiting": "Waiting for the host to let you in…",
    "guest.waiting_hint": "Keep this page open: you join as soon as a host admits you.",
    "guest.denied": "The host did not let you in.",
    "guest.ask_again": "Ask again",
    "guest.left": "You left the meeting. You can close this page.",
    "nav.phones": "Phones",
    "page.phones": "Phones",
    ...PHONES_DICTS.en,
    ...BUILDING_DICTS.en,
    ...CAMERAS_DICTS.en,
  },
  "zh-CN": {
    "app.name": "Civic",
    "app.tagline": "行政中心管理控制台",
    "nav.label": "主导航",
    "nav.system": "系统",
    "nav.users": "用户",
    "nav.audit": "审计日志",
    "page.system": "系统状态",
    "page.users": "用户管理",
    "page.audit": "审计日志",
    "conn.label": "连接状态",
    "conn.connecting": "正在连接…",
    "conn.online": "在线",
    "conn.reconnecting": "正在重新连接…",
    "conn.offline": "离线",
    "lang.label": "语言",
    "top.signed_in_as": "当前用户",
    "top.change_password": "修改密码",
    "top.logout": "退出登录",
    "role.admin": "管理员",
    "role.official": "办公人员",
    "role.facilities": "设施管理",
    "role.system": "系统",
    "common.cancel": "取消",
    "common.confirm": "确认",
    "common.close": "关闭",
    "common.loading": "加载中…",
    "common.none": "—",
    "boot.connecting": "正在连接服务器…",
    "boot.unreachable": "无法连接服务器，正在重试…",
    "login.title": "登录",
    "login.subtitle": "请使用控制台账号登录。",
    "login.username": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.busy": "正在登录…",
    "login.missing": "请输入用户名和密码。",
    "login.auth_failed": "用户名或密码错误，请检查后重试。",
    "login.locked_out": "登录失败次数过多，请在 {minutes} 分钟后重试。",
    "login.locked_out_one": "登录失败次数过多，请在 1 分钟后重试。",
    "login.unreachable": "无法连接服务器，请检查网络连接后重试。",
    "login.session_ended": "会话已结束，请重新登录。",
    "login.signed_out": "您已退出登录。",
    "login.footer": "本系统的所有操作均记入审计日志。",
    "err.invalid_format": "服务器无法识别该请求，请刷新页面后重试。",
    "err.missing_id": "控制台与服务器通信异常，请刷新页面。",
    "err.id_reuse": "控制台与服务器通信异常，请刷新页面。",
    "err.unknown_type": "服务器不支持此操作，可能版本较旧，请刷新页面。",
    "err.invalid_params": "请检查输入内容：{detail}",
    "err.not_allowed": "您的角色无权执行此操作。",
    "err.not_found": "该对象已不存在，可能已被他人删除。",
    "err.conflict": "与当前状态冲突：{detail}",
    "err.rate_limited": "操作过于频繁，请稍候再试。",
    "err.auth_failed": "用户名或密码错误。",
    "err.locked_out": "登录失败次数过多，请稍后再试。",
    "err.too_large": "请求内容过大。",
    "err.unavailable": "该功能模块当前未运行。",
    "err.internal_error": "服务器处理失败，详细信息已记入服务器日志，请联系管理员。",
    "err.disconnected": "与服务器的连接已断开，操作可能未执行。请在连接恢复后检查并重试。",
    "err.timeout": "服务器未及时响应，请重试。",
    "err.closed": "您已退出控制台。",
    "err.http": "服务器返回了意外错误（HTTP {status}）。",
    "err.unknown": "出现错误（{code}）：{detail}",
    "users.create.title": "新建用户",
    "users.list.title": "控制台用户",
    "users.field.username": "用户名",
    "users.field.display_name": "显示名称",
    "users.field.role": "角色",
    "users.field.password": "密码",
    "users.field.language": "语言",
    "users.field.status": "状态",
    "users.field.created": "创建时间",
    "users.field.actions": "操作",
    "users.create.submit": "创建用户",
    "users.created": "已创建用户 {username}。",
    "users.updated": "已更新用户 {username}。",
    "users.deleted": "已删除用户 {username}。",
    "users.status.enabled": "已启用",
    "users.status.disabled": "已停用",
    "users.action.enable": "启用",
    "users.action.disable": "停用",
    "users.action.reset": "重置密码",
    "users.action.delete": "删除",
    "users.role_for": "{username} 的角色",
    "users.you": "本人",
    "users.count": "共 {n} 个用户",
    "users.empty": "暂无用户。",
    "users.confirm.delete": "确定删除用户 {username}？其会话将立即结束，且无法恢复。",
    "users.confirm.disable": "确定停用用户 {username}？该用户将立即退出，重新启用前无法登录。",
    "users.confirm.reset": "确定重置 {username} 的密码？系统将生成新密码，并结束其所有会话。",
    "users.confirm.role": "确定将 {username} 的角色改为{role}？该用户将退出并需要重新登录。",
    "users.reset.title": "{username} 的新密码",
    "users.reset.hint": "请立即复制此密码并当面交给用户。该密码只显示这一次。",
    "users.reset.done": "已重置 {username} 的密码。",
    "users.copy": "复制",
    "users.copied": "已复制到剪贴板。",
    "users.copy_failed": "此处无法自动复制，请选中密码后手动复制。",
    "audit.filters": "筛选条件",
    "audit.filter.user": "用户",
    "audit.filter.action": "操作前缀",
    "audit.filter.since": "起始时间",
    "audit.filter.until": "结束时间",
    "audit.filter.apply": "筛选",
    "audit.filter.clear": "清除",
    "audit.col.time": "时间",
    "audit.col.action": "操作",
    "audit.col.user": "用户",
    "audit.col.role": "角色",
    "audit.col.target": "对象",
    "audit.col.result": "结果",
    "audit.col.source": "来源",
    "audit.col.detail": "详情",
    "audit.result.ok": "成功",
    "audit.result.failed": "失败",
    "audit.result.denied": "拒绝",
    "audit.newer": "较新",
    "audit.older": "较早",
    "audit.page": "第 {n} 页",
    "audit.live": "实时：新记录显示在顶部。",
    "audit.paused": "正在查看较早的记录；回到第一页后恢复实时更新。",
    "audit.waiting": "连接恢复后继续实时更新。",
    "audit.empty": "没有符合条件的记录。",
    "system.overview": "概览",
    "system.version": "版本",
    "system.go": "Go 运行时",
    "system.started": "启动时间",
    "system.uptime": "运行时长",
    "system.modules": "模块",
    "system.col.module": "模块",
    "system.col.state": "状态",
    "system.col.detail": "详情",
    "system.no_modules": "没有模块信息。",
    "state.running": "运行中",
    "state.starting": "启动中",
    "state.stopped": "已停止",
    "state.failed": "故障",
    "state.disabled": "已禁用",
    "module.store": "数据存储",
    "module.events": "事件总线",
    "module.console": "控制台",
    "module.audit": "审计日志",
    "module.conference": "会议",
    "module.voip": "电话",
    "module.building": "门禁",
    "module.cameras": "摄像头",
    "module.mqtt": "MQTT 代理",
    "unit.d": "{n} 天",
    "unit.h": "{n} 小时",
    "unit.min": "{n} 分",
    "unit.s": "{n} 秒",
    "pw.title": "修改密码",
    "pw.current": "当前密码",
    "pw.new": "新密码",
    "pw.repeat": "再次输入新密码",
    "pw.submit": "修改密码",
    "pw.missing": "请填写全部三项。",
    "pw.mismatch": "两次输入的新密码不一致。",
    "pw.current_wrong": "当前密码不正确。",
    "pw.done": "密码已修改，您的其他会话已退出。",
    "nav.meetings": "会议",
    "page.meetings": "会议",
    "page.meeting": "会议",
    "meetings.new": "新建会议",
    "meetings.title": "会议主题",
    "meetings.title_ph": "例如：预算审议",
    "meetings.create": "创建",
    "meetings.list": "当前会议",
    "meetings.col.title": "主题",
    "meetings.col.room": "会议号",
    "meetings.col.host": "主持人",
    "meetings.col.people": "参会人数",
    "meetings.join": "加入",
    "meetings.passcode": "会议密码（可选）",
    "meetings.passcode_ph": "4-16 个字符",
    "meetings.has_passcode": "需密码",
    "meetings.attendance": "签到表 (CSV)",
    "meetings.none": "还没有会议，请在上方创建。",
    "meetings.created": "会议 {room} 已创建。",
    "meeting.room": "会议号 {room}",
    "meeting.people": "{n} 人参会",
    "meeting.you": "我",
    "meeting.mic_on": "静音",
    "meeting.mic_off": "取消静音",
    "meeting.cam_on": "关闭摄像头",
    "meeting.cam_off": "开启摄像头",
    "meeting.leave": "离开会议",
    "meeting.hand": "举手",
    "meeting.hand_down": "放下手",
    "meeting.mute_all": "全员静音",
    "meeting.lock": "锁定会议",
    "meeting.unlock": "解锁会议",
    "meeting.end": "结束会议",
    "meeting.mute": "静音",
    "meeting.muted": "已静音",
    "meeting.passcode": "会议密码",
    "meeting.passcode_needed": "此会议设有密码，请输入后加入。",
    "meeting.passcode_wrong": "密码不正确，请向主持人确认后重试。",
    "meeting.passcode_locked": "密码错误次数过多，请几分钟后再试。",
    "meeting.participants": "参会人员",
    "meeting.share": "共享屏幕",
    "meeting.stop_share": "停止共享",
    "meeting.screen_of": "{name} 的屏幕",
    "meeting.your_name": "会议中显示的名字",
    "meeting.camera": "摄像头",
    "meeting.microphone": "麦克风",
    "meeting.remove": "移出",
    "meeting.chat": "聊天",
    "meeting.chat_ph": "输入消息",
    "meeting.send": "发送",
    "meeting.joining": "正在加入…",
    "meeting.no_media": "无法使用您的摄像头或麦克风，您以仅观看和收听的方式加入。",
    "meeting.muted_by_host": "主持人已将您静音。",
    "meeting.removed": "主持人已将您移出会议。",
    "meeting.ended": "会议已结束。",
    "meeting.locked": "会议已锁定。",
    "meeting.reconnecting": "连接中断，正在重新连接…",
    "meeting.end_confirm": "确定为所有人结束此会议吗？",
    "role.guest": "访客",
    "meetings.mine": "我的会议",
    "meetings.all": "所有进行中的会议",
    "meetings.mine_none": "您还没有主持的会议。可在上方创建，或请他人将您设为联合主持人。",
    "meetings.schedule": "预定时间（可选）",
    "meetings.cohosts": "联合主持人（可选）",
    "meetings.cohosts_ph": "用户名，以逗号分隔",
    "meetings.col.when": "时间",
    "meetings.ad_hoc": "即时",
    "meetings.live": "进行中",
    "meetings.stats_line": "{name}：发送 {in} kbit/s，接收 {out} kbit/s，丢包 {loss}%，往返 {rtt} 毫秒",
    "meetings.stats_label": "实时媒体",
    "meetings.cohost_tag": "联合主持",
    "meetings.schedule_bad": "预定时间不是有效的日期和时间。",
    "meeting.invite": "邀请访客",
    "meeting.invite_title": "访客邀请链接",
    "meeting.invite_ttl": "链接有效期",
    "meeting.invite_hours": "{n} 小时",
    "meeting.invite_days": "{n} 天",
    "meeting.invite_one_day": "1 天",
    "meeting.invite_make": "生成链接",
    "meeting.invite_copy": "复制链接",
    "meeting.invite_copied": "邀请链接已复制。",
    "meeting.invite_expires": "有效期至 {time}。持有链接的人可以申请加入：他们需在等候室等候，且仍需输入会议密码。",
    "meeting.lobby": "等候室",
    "meeting.lobby_on": "访客需在等候室等候",
    "meeting.lobby_empty": "没有人在等候。",
    "meeting.admit": "准许加入",
    "meeting.deny": "拒绝",
    "meeting.guest_waiting": "{name} 正在等候室等候。",
    "meeting.close": "关闭",
    // Desk phones in meetings (meeting-phones.js).
    "meeting.dialin": "座机入会：拨 {number}，输入 {pin} 后按 #",
    "meeting.phone": "座机",
    "meeting.dialout": "呼叫座机",
    "meeting.dialout_title": "呼叫座机入会",
    "meeting.dialout_hint": "座机将立即振铃，接听后直接加入本会议，无需输入 PIN。",
    "meeting.dialout_search": "按姓名搜索，或输入号码",
    "meeting.dialout_call": "呼叫",
    "meeting.dialout_call_number": "呼叫 {number}",
    "meeting.dialout_call_entry": "呼叫 {name}（{number}）入会",
    "meeting.dialout_none": "电话簿中没有匹配项。可输入 2-5 位号码直接呼叫。",
    "meeting.dialout_not_listed": "{number} 不在电话簿中，仍可直接呼叫。",
    "meeting.dialout_number_bad": "请从列表中选择，或输入 2-5 位号码。",
    "meeting.dialout_already": "正在呼叫 {name}。",
    "meeting.dialout_not_host": "只有会议主持人可以呼叫座机入会。",
    "meeting.dialout_state_calling": "正在呼叫…",
    "meeting.dialout_state_ringing": "正在振铃…",
    "meeting.dialout_state_answered": "已接听",
    "meeting.dialout_state_busy": "忙线",
    "meeting.dialout_state_declined": "已拒接",
    "meeting.dialout_state_no_answer": "无人接听",
    "meeting.dialout_state_unavailable": "无法接通",
    "meeting.dialout_state_unknown_number": "空号",
    "meeting.dialout_state_failed": "呼叫失败",
    "meeting.dialout_state_lost": "连接中断，结果未知",
    "meetings.dialin_hint": "请告知要用座机入会的人；会议中的每个人也能看到号码和 PIN。",
    "page.guest": "以访客身份加入",
    "guest.invited": "您受邀参加",
    "guest.name": "您的名字",
    "guest.name_ph": "其他参会者看到的名字",
    "guest.continue": "继续",
    "guest.expires": "此链接有效期至 {time}。",
    "guest.checking": "正在核对邀请链接…",
    "guest.expired": "此邀请链接已过期，请向主持人索取新链接。",
    "guest.invalid": "此邀请链接无效，请检查链接或向主持人索取新链接。",
    "guest.ended": "此邀请链接对应的会议已结束。",
    "guest.name_needed": "请输入您的名字。",
    "guest.waiting": "正在等待主持人准许您加入…",
    "guest.waiting_hint": "请保持此页面打开，主持人准许后您将自动加入。",
    "guest.denied": "主持人未准许您加入。",
    "guest.ask_again": "再次申请",
    "guest.left": "您已离开会议，可以关闭此页面。",
    "nav.phones": "电话",
    "page.phones": "电话",
    ...PHONES_DICTS["zh-CN"],
    ...BUILDING_DICTS["zh-CN"],
    ...CAMERAS_DICTS["zh-CN"],
  },
};

/**
 * dictionaryKeys lists the keys of one language's dictionary; tests use it
 * to check that both languages have every key.
 * @param {Lang} lang
 * @returns {string[]}
 */
export function dictionaryKeys(lang) {
  return Object.keys(DICTS[lang]);
}

/**
 * isLang reports whether s is a language the console speaks.
 * @param {unknown} s
 * @returns {s is Lang}
 */
export function isLang(s) {
  return s === "zh-CN" || s === "en";
}

/**
 * matchLang maps a BCP 47 tag such as "zh-Hans-CN" or "en-GB" to a console
 * language, or null.
 * @param {string} tag
 * @returns {Lang | null}
 */
export function matchLang(tag) {
  const t = tag.toLowerCase();
  if (t === "zh" || t.startsWith("zh-")) return "zh-CN";
  if (t === "en" || t.startsWith("en-")) return "en";
  return null;
}

/**
 * I18n holds the current language and translates keys and DOM subtrees.
 */
export class I18n {
  /** @type {Lang} */
  #lang = "en";
  /** @type {Set<(lang: Lang) => void>} */
  #listeners = new Set();
  /** @type {Storage | null} */
  #storage;

  /**
   * @param {{storage?: Storage | null, languages?: readonly string[]}} [opts]
   */
  constructor(opts = {}) {
    this.#storage = opts.storage ?? null;
    const stored = this.#read();
    if (stored) {
      this.#lang = stored;
    } else {
      for (const tag of opts.languages ?? []) {
        const l = matchLang(tag);
        if (l) {
          this.#lang = l;
          break;
        }
      }
    }
    document.documentElement.lang = this.#lang;
  }

  /** @returns {Lang} the current language. */
  get lang() {
    return this.#lang;
  }

  /** @returns {boolean} whether the person chose a language explicitly. */
  get chosen() {
    return this.#read() !== null;
  }

  /**
   * set switches the language at runtime and notifies listeners.
   * @param {Lang} lang
   * @param {{remember?: boolean}} [opts] remember keeps the choice across visits.
   */
  set(lang, opts = {}) {
    if (!isLang(lang)) return;
    if (opts.remember ?? true) {
      try {
        this.#storage?.setItem(STORAGE_KEY, lang);
      } catch {
        // Private mode or storage disabled: the choice lasts this page only.
      }
    }
    if (lang === this.#lang) return;
    this.#lang = lang;
    document.documentElement.lang = lang;
    for (const fn of this.#listeners) fn(lang);
  }

  /**
   * onChange registers a listener for language switches.
   * @param {(lang: Lang) => void} fn
   * @returns {() => void} a function that removes the listener.
   */
  onChange(fn) {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /**
   * t translates key, filling {name} placeholders from vars. A missing key
   * falls back to English, then to the key itself.
   * @param {string} key
   * @param {Vars} [vars]
   * @returns {string}
   */
  t(key, vars) {
    const s = DICTS[this.#lang][key] ?? DICTS.en[key] ?? key;
    if (!vars) return s;
    return s.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  }

  /**
   * has reports whether key exists in the dictionaries.
   * @param {string} key
   */
  has(key) {
    return key in DICTS.en;
  }

  /**
   * translate re-labels every element under root that carries data-i18n
   * (text), data-i18n-placeholder, data-i18n-title or data-i18n-aria-label.
   * @param {ParentNode} root
   */
  translate(root) {
    for (const el of root.querySelectorAll("[data-i18n]")) {
      el.textContent = this.t(/** @type {HTMLElement} */ (el).dataset.i18n ?? "");
    }
    for (const [attr, data] of [
      ["placeholder", "i18nPlaceholder"],
      ["title", "i18nTitle"],
      ["aria-label", "i18nAriaLabel"],
    ]) {
      for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) {
        const key = /** @type {HTMLElement} */ (el).dataset[data];
        if (key) el.setAttribute(attr, this.t(key));
      }
    }
  }

  /** @returns {Lang | null} */
  #read() {
    try {
      const v = this.#storage?.getItem(STORAGE_KEY);
      return isLang(v) ? v : null;
    } catch {
      return null;
    }
  }
}
