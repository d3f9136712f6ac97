// The REST part of the SDK end-to-end walk, in C# 7.2 under Mono, on the
// models generated into dist/sdk/cs (Paradise.Rest, Paradise.Ws) and
// Newtonsoft.Json. Run by sdk/run.sh: PARADISE_URL=http://127.0.0.1:PORT mono e2e.exe
using System;
using System.IO;
using System.Net;
using System.Text;
using Newtonsoft.Json;
using Paradise.Rest;
using Paradise.Ws;

static class E2E
{
  static readonly string Base = Environment.GetEnvironmentVariable("PARADISE_URL") ?? "http://127.0.0.1:8000";
  static int passed, failed;

  // Sends a request; returns the status and the body (always the JSON envelope).
  static int Call(string method, string path, string token, object body, out string json)
  {
    var req = (HttpWebRequest)WebRequest.Create(Base + path);
    req.Method = method;
    if (token != null) req.Headers["Authorization"] = "Token " + token;
    if (body != null)
    {
      req.ContentType = "application/json";
      var bytes = Encoding.UTF8.GetBytes(JsonConvert.SerializeObject(body));
      using (var s = req.GetRequestStream()) s.Write(bytes, 0, bytes.Length);
    }
    HttpWebResponse resp;
    try { resp = (HttpWebResponse)req.GetResponse(); }
    catch (WebException e) when (e.Response != null) { resp = (HttpWebResponse)e.Response; }
    using (resp)
    using (var r = new StreamReader(resp.GetResponseStream()))
    {
      json = r.ReadToEnd();
      return (int)resp.StatusCode;
    }
  }

  // Calls and deserialises into T, which must match the spec exactly
  // (Required.Always members, enums), or throws.
  static T Expect<T>(int want, string method, string path, string token, object body)
  {
    string json;
    int status = Call(method, path, token, body, out json);
    if (status != want) throw new Exception(method + " " + path + ": status " + status + ", want " + want + ": " + json);
    return JsonConvert.DeserializeObject<T>(json);
  }

  static void Check(bool cond, string msg) { if (!cond) throw new Exception(msg); }

  static void Step(string name, Action fn)
  {
    try { fn(); passed++; Console.WriteLine("ok   " + name); }
    catch (Exception e) { failed++; Console.WriteLine("FAIL " + name + ": " + e.Message); }
  }

  static int Main()
  {
    string user = "cs_" + DateTime.UtcNow.Ticks.ToString("x");
    const string password = "correct-horse-battery";
    var rnd = new Random();
    string mac = string.Format("AA:C0:{0:X2}:{1:X2}:{2:X2}:02", rnd.Next(256), rnd.Next(256), rnd.Next(256));
    string token = null;
    Device device = null;

    Step("register (201, AuthEnvelope)", () =>
    {
      var reg = Expect<AuthEnvelope>(201, "POST", "/api/user/register/", null, new RegisterRequest { Username = user, Password = password });
      Check(reg.Success && reg.Code == 201 && reg.Data.User.Username == user, "envelope");
    });
    Step("login", () =>
    {
      var login = Expect<AuthEnvelope>(200, "POST", "/api/user/login/", null, new LoginRequest { Username = user, Password = password });
      token = login.Data.Token;
      Check(login.Data.User.LastLogin != null, "last_login set");
    });
    Step("profile update and read back", () =>
    {
      var upd = Expect<UserEnvelope>(200, "PATCH", "/api/user/profile/", token, new ProfileUpdate { Nickname = "Cee", Gender = Gender.Other });
      Check(upd.Data.Nickname == "Cee" && upd.Data.Gender == Gender.Other && upd.Data.Mbti == "", "update");
      var prof = Expect<UserEnvelope>(200, "GET", "/api/user/profile/", token, null);
      Check(prof.Data.Gender == Gender.Other, "read back");
    });
    Step("bind a device", () =>
    {
      device = Expect<DeviceEnvelope>(200, "POST", "/api/device/bind/", token, new BindRequest { MacAddress = mac }).Data;
      Check(device.MacAddress == mac && device.DeviceType == null && device.BatteryLevel == null && device.Status == DeviceStatus.Disconnected, "device");
    });
    Step("MAC login as that device", () =>
    {
      var ml = Expect<MacLoginEnvelope>(200, "POST", "/api/user/mac-login/", null, new MacRequest { MacAddress = mac.ToLowerInvariant() });
      Check(ml.Data.Device.Id == device.Id && !string.IsNullOrEmpty(ml.Data.Token), "mac login");
    });
    Step("list device types and devices with pagination", () =>
    {
      var types = Expect<DeviceTypePageEnvelope>(200, "GET", "/api/device/types/?page=1&page_size=1", token, null);
      Check(types.Data.Results.Count <= 1, "page_size respected");
      var page = Expect<DevicePageEnvelope>(200, "GET", "/api/device/devices/?page=1&page_size=1", token, null);
      Check(page.Data.Count == 1 && page.Data.Next == null && page.Data.Results[0].MacAddress == mac, "devices page");
    });
    Step("4010 envelope: MAC login of an unknown device", () =>
    {
      var e = Expect<Error>(404, "POST", "/api/user/mac-login/", null, new MacRequest { MacAddress = "00:00:00:00:00:00" });
      Check(e.Code == 4010 && !e.Success, "code " + e.Code);
    });
    Step("401 envelope: invalid token", () =>
    {
      var e = Expect<Error>(401, "GET", "/api/user/profile/", "not-a-token", null);
      Check(e.Code == 401 && !e.Success && e.Data == null, "code " + e.Code);
    });
    Step("400 envelope: per-field messages", () =>
    {
      var e = Expect<Error>(400, "POST", "/api/user/login/", null, new { username = "x" });
      Check(e.Code == 400 && e.Data != null && e.Data.ContainsKey("password"), "fields");
    });
    Step("hub frames: parse and serialise with the generated WS models", () =>
    {
      var f = Frames.Parse("{\"type\":\"chat\",\"message\":{\"text\":\"hi\"},\"from\":{\"role\":\"device\",\"mac_address\":\"AA:BB:CC:00:00:01\",\"connection_id\":\"c-1\"}}") as ChatFrame;
      Check(f != null && f.Message.Text == "hi" && f.From.Role == Role.Device, "chat frame");
      var n = JsonConvert.SerializeObject(new NotificationFrame { Message = new Paradise.Ws.NotificationPayload { Title = "t", Body = "b", Level = Paradise.Ws.NotificationLevel.Warning } });
      Check(n.Contains("\"type\":\"notification\"") && n.Contains("\"level\":\"warning\""), n);
    });

    Console.WriteLine(passed + " passed, " + failed + " failed");
    return failed == 0 && passed > 0 ? 0 : 1;
  }
}
