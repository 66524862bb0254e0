-- wrk script: POSTs realistic Telegram updates to /webhooks/telegram. Every request is a
-- new update_id (no dedupe shortcut), spread over 50,000 private chats (so per-chat pacing
-- does not queue), with the secret header a real webhook call carries.
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local texts = {
  "We had a fight about chores again",
  "I feel smothered lately, like I never get time to myself",
  "hi",
  "I miss how close we used to be",
  "How do I apologise without making it worse?",
}
local counter = 0
local secret, base

function init(args)
  secret = os.getenv("TELEGRAM_WEBHOOK_SECRET") or "bench_secret"
  base = 1000000000 + (tid or 0) * 100000000
end

function request()
  counter = counter + 1
  local id = base + counter
  local chat = 100000 + (id % 50000)
  local body = string.format(
    '{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,' ..
    '"first_name":"Ana","language_code":"en"},"chat":{"id":%d,"first_name":"Ana",' ..
    '"type":"private"},"date":%d,"text":"%s"}}',
    id, counter, chat, chat, os.time(), texts[(counter % #texts) + 1])
  return wrk.format("POST", "/webhooks/telegram", {
    ["Content-Type"] = "application/json",
    ["X-Telegram-Bot-Api-Secret-Token"] = secret,
  }, body)
end
