// Hand-written runtime of the Unity package (copied by sdk/run.sh).
using System;
using System.Globalization;
using Newtonsoft.Json;

namespace Paradise
{
  /// <summary>
  /// Writes and reads an enum whose contract values are integers (sample
  /// rates 8000/16000/24000) as JSON numbers. Newtonsoft's StringEnumConverter
  /// would write the string "8000", which the server rejects. Reading accepts
  /// only a defined value, so a new value from a newer server fails loudly
  /// instead of becoming a silent cast.
  /// </summary>
  public sealed class NumericEnumConverter : JsonConverter
  {
    public override bool CanConvert(Type objectType)
    {
      Type t = Nullable.GetUnderlyingType(objectType) ?? objectType;
      return t.IsEnum;
    }

    public override void WriteJson(JsonWriter writer, object value, JsonSerializer serializer)
    {
      if (value == null)
      {
        writer.WriteNull();
        return;
      }
      writer.WriteValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
    }

    public override object ReadJson(JsonReader reader, Type objectType, object existingValue, JsonSerializer serializer)
    {
      Type underlying = Nullable.GetUnderlyingType(objectType);
      Type t = underlying ?? objectType;
      if (reader.TokenType == JsonToken.Null)
      {
        if (underlying != null) return null;
        throw new JsonSerializationException("null is not a " + t.Name);
      }
      if (reader.TokenType != JsonToken.Integer)
        throw new JsonSerializationException("a " + t.Name + " is a JSON integer, got " + reader.TokenType + " " + reader.Value);
      long n = Convert.ToInt64(reader.Value, CultureInfo.InvariantCulture);
      object v = Enum.ToObject(t, n);
      if (!Enum.IsDefined(t, v))
        throw new JsonSerializationException(n + " is not a " + t.Name);
      return v;
    }
  }
}
